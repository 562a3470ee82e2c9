"""Graph nodes, one per file, named after the node."""
