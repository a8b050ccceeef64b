"""The igsc application: the command, the demo, pipeline assembly and the stage registry."""
