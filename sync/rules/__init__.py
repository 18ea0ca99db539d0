"""The merge and counting rules, as pure functions over plain values, and the adapters feeding
them.
"""
