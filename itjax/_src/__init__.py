"""Private implementation; import from `itjax`."""
