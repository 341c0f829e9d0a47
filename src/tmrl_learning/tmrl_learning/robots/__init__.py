"""Robot drivers: `EpisodeDriver` subclasses that command a real arm (or a peer speaking its protocol)."""
