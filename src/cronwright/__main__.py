from cronwright.cli.main import main

main()
