"""From MIDI files to training data: safe reading, the embedded corpus, tokens, training
windows, prompts and the labelled jazz / not-jazz sets."""
