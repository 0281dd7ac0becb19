"""A piece as note arrays and what is measured on it: metrics, texture, harmony, target bands,
and structure-destroyed copies."""
