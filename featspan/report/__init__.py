"""The paper's figures and tables, and the toy setting's outputs, from the workflow's result files."""
