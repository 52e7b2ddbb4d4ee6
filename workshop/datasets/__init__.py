"""Seeded generators of the workshop's data sets, written in the layout of the public data set each
stands in for, and loaders for those public layouts (one module per data set, described in
``data/README.md``). Nothing is downloaded at run time."""
