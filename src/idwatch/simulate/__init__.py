"""idwatch.simulate."""
