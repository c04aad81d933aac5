//! End-to-end: crash (being written).
