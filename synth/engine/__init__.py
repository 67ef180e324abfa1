"""The instrument: channel state, sound controls (presets, knobs, morph, learn), voices and the mix."""
