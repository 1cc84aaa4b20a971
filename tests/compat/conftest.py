from _ray_surface import coverage_line


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(coverage_line())
