//! Integration tests of wdq-lower.
