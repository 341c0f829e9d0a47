"""LIBERO as a simulated bridge: its environments run in their own Python environment (LIBERO needs
mujoco < 4, tmrl pins 4.0.0), in a server process that this package talks to (`client`)."""
