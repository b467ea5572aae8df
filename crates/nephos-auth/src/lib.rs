//! Placeholder: SigV4, being written.
