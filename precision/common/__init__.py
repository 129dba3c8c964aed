"""The small shared room: input errors, crash-safe files and folder claims, devices, plotting. `attacks` uses only
this room of `precision`."""
