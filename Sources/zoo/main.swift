import ZooCLI

// The `zoo` executable is the command tree in ZooCLI, run on this process's arguments.
ZooCommand.main()
