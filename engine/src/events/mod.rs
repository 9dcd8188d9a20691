//! Decoders of the AWS events spa consumes, and the domain events it emits.
