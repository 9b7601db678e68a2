"""vigil.forecast"""
