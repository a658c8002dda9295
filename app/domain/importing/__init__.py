"""Import: bringing in the data that exists before the first day (entities, people, roles,
accreditations, trainers' certificates) from CSV files. `kinds` says what a line of each
file does, `csvfile` how a file is read, `runner` how a run goes (dry or real)."""
