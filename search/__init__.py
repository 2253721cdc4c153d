"""The search index of the catalogue: variables, questions and studies.

The catalogue calls one interface, :class:`search.engine.SearchEngine`, opened with
:func:`search.engine.open_engine` (``tantivy``, the default, or ``whoosh``)::

    engine = open_engine("tantivy", settings.index_dir)
    engine.replace_publication(7, documents)          # SearchDocument values
    results = engine.search(SearchQuery("tabac", filters=Filters(cohort=("elfe",))))

Modules: ``documents`` (what is indexed), ``query`` and ``results`` (what a search asks
and answers), ``syntax`` (the query language), ``analysis`` / ``fields`` / ``plan`` (how
text is indexed and matched, shared by both engines), ``facets``, ``highlight``,
``suggest``, ``searching`` (the search flow written once), and one module per engine.
"""
