"""Tools for developers and the benches (not shipped): stand-in models, workflow files."""
