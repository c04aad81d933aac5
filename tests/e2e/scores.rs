//! End-to-end: scores (being written).
