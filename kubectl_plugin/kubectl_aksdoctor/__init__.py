"""kubectl aksdoctor: the kubectl plugin front-end."""
