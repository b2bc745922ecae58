// Saved inspection queries for the Neo4j Browser. Each starts at a `// name:` line; set its
// parameters first with the `:param` line shown (they persist for the Browser session).
// Facts are the relationships between two Concept nodes; their type is the ConceptNet relation
// (`dbpedia/genre` is stored as `dbpedia_genre`).

// name: concept neighbourhood
// :param uri => '/c/en/cup'
MATCH p = (c:Concept {uri: $uri})-[r]-(:Concept)
RETURN p
ORDER BY r.weight DESC, r.edge_id
LIMIT 50;

// name: facts linking the concepts of a sample
// :param uris => ['/c/en/cup', '/c/en/table', '/c/en/plate']
MATCH (c:Concept)
WHERE c.uri IN $uris
OPTIONAL MATCH p = (c)-[r]->(t:Concept)
WHERE t.uri IN $uris
RETURN c, p;

// name: coverage view 50% seed 0
// A fact is in the view when ((cov + (seed * golden ratio) % 1) % 1) < level, as in kgprune.
WITH 0.5 AS level, 0 AS seed
MATCH (:Concept)-[r]->(:Concept)
WITH type(r) AS relation, ((r.cov + (seed * 0.6180339887498949) % 1.0) % 1.0) < level AS kept
RETURN relation, count(*) AS facts, sum(CASE WHEN kept THEN 1 ELSE 0 END) AS in_view
ORDER BY facts DESC;

// name: relation histogram
MATCH (:Concept)-[r]->(:Concept)
RETURN type(r) AS relation, r.source AS source, count(*) AS facts
ORDER BY facts DESC, relation;

// name: objects of an image with their concepts
// :param image_id => 1
MATCH (o:Object)-[located:IN_IMAGE]->(i:Image {image_id: $image_id})
OPTIONAL MATCH instance = (o)-[:INSTANCE_OF]->(:Concept)
OPTIONAL MATCH predicate = (o)-[:PREDICATE]->(:Object)
RETURN i, o, located, instance, predicate;

// name: units each relation relies on (written by `kgprune relations --store bolt://...`)
// :param run => 'relations'
MATCH p = (rel:Relation)-[s:SERVED_BY {run: $run}]->(u:ModelUnit)
WHERE s.rank < 5
RETURN p
ORDER BY rel.name, s.rank;

// name: relations whose top units were pruned away
// :param run => 'relations'
MATCH (rel:Relation)-[s:SERVED_BY {run: $run}]->(u:ModelUnit)
WHERE s.rank < 10
RETURN rel.name AS relation, count(u) AS top_units,
       sum(CASE WHEN u.kept THEN 0 ELSE 1 END) AS pruned
ORDER BY pruned DESC, relation;
