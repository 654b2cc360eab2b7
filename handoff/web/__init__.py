"""The browser side: the customer chat widget, its demo page, the agent console and the
supervisor view, served as static files by the handoff service itself.
"""
