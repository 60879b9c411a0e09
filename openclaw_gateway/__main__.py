from openclaw_gateway.cli.app import main

main()
