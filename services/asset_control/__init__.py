"""Asset control (财产查控): Network asset queries, control and the disposal chain."""
