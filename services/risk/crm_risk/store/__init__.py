"""The risk store's reads: the SQL behind the RPCs, so handlers only validate, call and map."""
