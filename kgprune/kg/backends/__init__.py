"""Graph store backends; each imports its driver only inside its own module."""
