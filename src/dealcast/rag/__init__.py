"""Retrieval over deal activity: offline embeddings, a Chroma index, hybrid search."""
