"""The exact k-NN search engine: query chunks with a running top-k on FAISS or torch, a
search plan (:mod:`.plan`), blocked low-precision search with exact rescoring, matmul precision."""
