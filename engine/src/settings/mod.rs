//! The settings file: schema, loading, resolution, CSV overlays.
