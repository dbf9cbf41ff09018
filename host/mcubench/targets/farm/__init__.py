"""Boards shared through labgrid: the client calls mcubench makes, and exporter set-up.

Nothing here tracks, queues or locks boards itself: labgrid's coordinator does (places,
reservations, acquisition); ``labgrid_client`` only runs ``labgrid-client`` and reads its
answers, and ``exporter`` renders the exporter configuration a lab (or a test) starts.
"""
