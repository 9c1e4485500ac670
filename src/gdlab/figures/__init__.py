"""Every figure gdlab draws, one module per kind:

* :mod:`~gdlab.figures.style`: the one style, canvas and reproducible PNG;
* :mod:`~gdlab.figures.run`: one run's learning curves and what its model learned;
* :mod:`~gdlab.figures.sweep`: a sweep's heatmap, learning curves and convergence;
* :mod:`~gdlab.figures.views`: every configuration at once, and what matters;
* :mod:`~gdlab.figures.lesson`: log loss against the squared loss, from one start;
* :mod:`~gdlab.figures.search_history`: a TPE search's trials in the order it asked them;
* :mod:`~gdlab.figures.draw`: what a plot job draws, from a sweep's files.

A new figure: a function returning a Matplotlib ``Figure`` in the module of its kind, its
file name in :mod:`gdlab.names`, a line in :func:`~gdlab.figures.draw.plot_sweep`, and
the plot rule's output.
"""
