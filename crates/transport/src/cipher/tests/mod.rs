//! Tests of the packet layer.
