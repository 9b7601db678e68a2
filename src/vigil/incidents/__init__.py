"""vigil.incidents"""
