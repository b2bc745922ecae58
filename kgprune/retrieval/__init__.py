"""Facts for a sample: relation detection, ranking, knowledge-grounded answers, the on-disk cache.

The layer between linking and vqa: it reads the graph (kg) and links text and objects (linking);
nothing below it imports it.
"""
