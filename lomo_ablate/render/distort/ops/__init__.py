"""The distortion op families, one module each; every module here is imported by
:func:`lomo_ablate.render.distort.registry.load_ops` and registers its family with ``register_op``
(docs/extending.md, "Add a distortion op")."""
