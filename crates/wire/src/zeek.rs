//! Typed views of Zeek message layouts over [`crate::Data`].
