"""Human agents' side of a handoff: the SLA clock, queue ordering and agent selection."""
