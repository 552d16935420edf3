-- The projections of game-events; only SQL that both TiDB and MariaDB accept.
CREATE TABLE IF NOT EXISTS game_results (
    event_id VARCHAR(64) NOT NULL,
    request_id VARCHAR(64) NOT NULL,
    game_id INT NOT NULL,
    game_name VARCHAR(32) NOT NULL,
    players INT NOT NULL,
    winner INT NOT NULL,
    route VARCHAR(16) NOT NULL,
    gateway_id VARCHAR(64) NOT NULL,
    occurred_at_ms BIGINT NOT NULL,
    schema_version INT NOT NULL,
    projected_at_ms BIGINT NOT NULL,
    batch_id BIGINT NOT NULL,
    PRIMARY KEY (event_id),
    KEY idx_results_occurred (occurred_at_ms),
    KEY idx_results_players_occurred (players, occurred_at_ms),
    KEY idx_results_batch (batch_id)
);

CREATE TABLE IF NOT EXISTS player_wins (
    player INT NOT NULL,
    wins BIGINT NOT NULL,
    PRIMARY KEY (player)
);

CREATE TABLE IF NOT EXISTS game_size_counts (
    players INT NOT NULL,
    games BIGINT NOT NULL,
    PRIMARY KEY (players)
);

CREATE TABLE IF NOT EXISTS game_counts (
    game_id INT NOT NULL,
    game_name VARCHAR(32) NOT NULL,
    games BIGINT NOT NULL,
    PRIMARY KEY (game_id)
);

CREATE TABLE IF NOT EXISTS route_counts (
    route VARCHAR(16) NOT NULL,
    games BIGINT NOT NULL,
    PRIMARY KEY (route)
);
