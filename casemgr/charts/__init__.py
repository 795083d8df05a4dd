"""Charts drawn on the server: plain data in, a reportlab Drawing out.

One drawing, two outputs: the web serves the Drawing as SVG (`views.py`, shown with <img>),
and PDF reports add the very same Drawing to their platypus story. The drawing modules
(`timeline.py`) import neither Flask nor the ORM; adapters elsewhere build their data.
"""
