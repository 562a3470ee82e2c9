from dealcast.cli import main

main()
