//! Length-prefixed postcard encoding of frames.
