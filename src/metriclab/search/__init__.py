"""The exact k-NN search engine.

- :mod:`.knn`: ``nearest_neighbors``, query chunks with a running top-k on FAISS or torch (the
  entry point);
- :mod:`.plan`: which search runs (backend, matmul precision);
- :mod:`.blocked`: the blocked search (low-precision candidates, exactly re-scored), with its
  candidate pool (:mod:`.candidates`, :mod:`.scan`);
- :mod:`.exact`: the reference arithmetic every path ends in (pair scores, the tie rule, the
  exact top-k, self-removal), with its numba kernels (:mod:`.rescore`);
- :mod:`.backends`: the float32 searchers (FAISS CPU/GPU, torch);
- :mod:`.matmul_precision`: matmul precision and its error bound;
- :mod:`.inputs`: the checks of embeddings, labels and ``ks``.

Imports go one way (no circle): knn -> plan, blocked, exact; blocked -> candidates -> scan;
blocked -> exact -> rescore.
"""
