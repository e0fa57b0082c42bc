DROP INDEX calls_density_cell;
