"""Views of the model: figures, animations, the HTML report, the teaching app and its presets.

Views may import the core and ``sim.analysis``; the core never imports a view.
"""
