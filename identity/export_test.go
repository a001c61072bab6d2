package identity

// IndexUsers exports indexUsers to the tests of the package.
var IndexUsers = indexUsers
