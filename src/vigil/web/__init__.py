"""vigil.web"""
