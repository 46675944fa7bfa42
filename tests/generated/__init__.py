"""Generate projects for many option combinations and run each project's own checks."""
